"""Storage (EVS, snapshots, CSBS backups): disks, snapshots, backups and the key store."""

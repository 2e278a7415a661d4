"""Monitoring (Cloud Eye analog): sampler, history, rollups, retention, alarms.

API for the dashboard and the CLI, all on `cloud.metrics` (a `service.Metrics`) and
`cloud.alarms` (an `alarms.Alarms`). Resources are instance ids (names are accepted where a
user types them) or "host". Times are wall-clock epoch seconds; values are floats, None = n/a.

Reading
    cloud.metrics.catalogue(scope=None) -> list[MetricInfo]   name, unit, scope, description
    cloud.metrics.series(resource, metric, since=300, step=None, stat="avg", until=None)
        -> list[(t, value)]   buckets of `step` s over the last `since` s ("5m", "1h", 300…),
        oldest first; empty buckets are left out; raw samples for windows within the last
        hour and steps under a minute, else 1-min / 5-min rollups (avg/max/min by `stat`).
        Default step: since/300 (about 300 points, e.g. 1 s for 5 min, 12 s for 1 h).
    cloud.metrics.latest() -> {resource: MetricSample}   newest sample per running instance
        and "host"; the live CPU % column is latest()[inst.id].values["cpu_util"].
    cloud.metrics.host() -> MetricSample | None    host_cpu_util, host_mem_util, …
    cloud.metrics.status() -> SamplerStatus   who samples (pid), interval, ticks, errors

Sampling (needs a running asyncio loop; the dashboard owns one)
    cloud.metrics.start(interval=10.0)   start the loop (idempotent); in the dashboard call
        it in on_mount, `set_interval(1.0)` while metrics or the instances table are shown,
        `set_interval(10.0)` otherwise, and `await cloud.metrics.stop()` on unmount.
    await cloud.metrics.sample_now(span=1.0)   two readings now, written to history (CLI);
        alarms are not judged on them (`lecs serve`, a dashboard or `metric watch` judge).
    Only one process per inventory samples (flock); another one follows and takes over
    when the first exits. Without any sampler running there is no new history: the CLI's
    `lecs metric watch` is the foreground collector, `lecs metric show` samples on demand.

Alarms
    cloud.alarms.create(name, resource, metric, comparison, threshold, period=60, periods=1,
        statistic="avg", suppression=0) -> Alarm;  .list(resource=None);  .get(ref);
        .delete(ref);  .subscribe(callback) -> unsubscribe;  .recent (deque of AlarmChange)
    The sampler evaluates the rules after every tick. A state change writes an
    `alarm.state-change` audit event (visible to other processes) and calls subscribers
    (AlarmChange: name, old, new, reason, value; repeat=True for suppression reminders).

Metric names (after Huawei Cloud Eye SYS.ECS): cpu_util, mem_util, qemu_rss_bytes,
disk_{read,write}_{bytes,requests}_rate, network_{incoming,outgoing}_bytes_rate; host_cpu_util,
host_mem_util, host_disk_util, host_load_1m, host_disk_{read,write}_bytes_rate.
Sources: vCPU threads' CPU time (QMP query-cpus-fast thread ids + psutil), virtio-balloon
guest-stats (mem_util n/a when the guest does not report), query-blockstats, the tap
device's counters in bridge mode (n/a in user-mode networking), psutil for the host.
"""

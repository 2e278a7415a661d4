"""RAM analog: the access keys API callers sign their requests with (`lecs serve`)."""

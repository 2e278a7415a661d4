"""The Alibaba ECS OpenAPI (2014-05-26, RPC style) over the Cloud facade, served by `lecs serve`.

`registry` holds the actions by name; `errors` the ECS-shaped failures. The server, the
signatures and the access keys dispatch to the registry; the actions call only the facade.
"""

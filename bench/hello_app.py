"""Baseline for the HTTP benchmark: a bare Litestar hello-world under the same server."""

from litestar import Litestar, get


@get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


app = Litestar([hello])

"""Face tests run against the test run's one converted-model folder, so every test's services share
one loaded pipeline (`ml_models.pipeline.shared_pipeline` keys it by that folder)."""

import msgspec
import pytest

from tests import face_samples


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, face_model_dir=str(face_samples.model_dir()))


@pytest.fixture
async def client_with(settings):
    """`await client_with(**setting_overrides)` → (client, services) over freshly started services."""
    import contextlib

    import httpx

    from backend.container import Services
    from mobile_api.app import create_app

    async with contextlib.AsyncExitStack() as stack:
        async def make(**overrides):
            started = await Services.start(msgspec.structs.replace(settings, **overrides))
            stack.push_async_callback(started.close)
            transport = httpx.ASGITransport(app=create_app(services=started))
            client = await stack.enter_async_context(httpx.AsyncClient(transport=transport,
                                                                       base_url="http://testserver"))
            return client, started

        yield make

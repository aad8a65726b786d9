import pytest

from prompts.gateway import GatewayClient, build_chat_payload
from prompts.gateway.simulator import SimulatorConfig, start_simulator

MODEL = "grok-build-0.1"
KEY = "sk-live-secret-4f9a2c7e1b"
OTHER_KEY = "sk-standby-secret-88d1"


@pytest.fixture(scope="module")
def running_simulator():
    simulator = start_simulator(SimulatorConfig(keys=[KEY, OTHER_KEY], seed=7))
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(running_simulator):
    """The module's simulator with its startup config, empty stats and no script."""
    running_simulator.reset()
    yield running_simulator
    running_simulator.reset()


@pytest.fixture
def client(sim):
    gateway = GatewayClient(sim.base_url, model=MODEL, timeout_s=5, connect_timeout_s=2)
    yield gateway
    gateway.close()


def chat_payload(brief="Portrait of a violinist at dusk", images=(), **kwargs):
    return build_chat_payload(
        model=kwargs.pop("model", MODEL),
        brief=brief,
        images=list(images),
        temperature=kwargs.pop("temperature", 0.65),
        max_tokens=kwargs.pop("max_tokens", 1024),
        **kwargs,
    )

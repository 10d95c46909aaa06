"""The sharded tier (``-m sharded``; ``lossref --world-size N``): every registry sample of the
shardable losses, its class dimension split over N processes, each rank's loss and gradient
shard held to the dense reference (tests/sharded/gate.py).

The implementation is the run's ``--impl`` where it is sharded (``LOSSREF_INTERFACE =
"sharded"``), and torch's own sharded cross-entropy (``loss_parallel``) where the run tests
torch. Each sample meets every distinct split of its classes over the N ranks: balanced
(sizes differ by at most one), ``torch.chunk``'s (DTensor's: a rank may own no class) and one
where the last rank owns a single class (tests/sharded/interface.py).
"""

from __future__ import annotations

import pytest

from . import impl as implementations
from .parity import apply_quirk
from .plugin import DEFAULT_IMPL
from .session import _device_marks, devices
from .sharded import gate
from .sharded.interface import splits
from .tolerances import dtype_name

pytestmark = pytest.mark.sharded


def pytest_generate_tests(metafunc):
    if "sharded_case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    if "sharded" not in (config.getoption("markexpr") or ""):
        # The tier is left out of this run (tests/session.py TIERS): one placeholder, deselected,
        # instead of thousands of cases built only to be dropped.
        metafunc.parametrize("sharded_case", [pytest.param(None, id="tier-not-selected")])
        return
    size = gate.world_size(config)
    metafunc.parametrize("sharded_case", [
        pytest.param((record, sample, device, dtype, split),
                     id=f"{record.name}-{sample.id}-{device}-{dtype_name(dtype)}-{split.id}",
                     marks=_device_marks(device))
        for record in gate.records() for sample in record.samples()
        for device in devices(config) for dtype in record.dtypes.get(device, ())
        if sample.dtypes is None or dtype in sample.dtypes
        for split in splits(gate.sample_classes(record.name, sample.id), size)])


def sharded_implementation(impl) -> implementations.Implementation:
    """The run's implementation where it is sharded; torch's ``loss_parallel`` where the run tests torch."""
    if impl.sharded:
        return impl
    if impl.spec == DEFAULT_IMPL:
        return implementations.load("loss_parallel")
    pytest.skip(f"--impl {impl.spec} follows torch.nn.functional's interface: the sharded tier needs a sharded "
                f"implementation (LOSSREF_INTERFACE = 'sharded', or loss_parallel)")


def _run(sharded_case, groups, rng, impl, request, test):
    record, sample, device, dtype, split = sharded_case
    implementation = sharded_implementation(impl)
    if not record.available():
        pytest.skip(f"the installed torch has no {record.name}")
    if implementation.function(record.name) is None:
        pytest.skip(f"{implementation} does not define {record.name}")
    accepted = getattr(implementation.module, "SPLITS", None)
    if accepted is not None and not split.kinds & set(accepted):
        pytest.skip(f"{implementation} accepts {' and '.join(accepted)} splits only, not {split.id} "
                    f"({', '.join(sorted(split.kinds))})")
    call = gate.draw(sample, dtype, rng)
    apply_quirk(request, record, sample, device, test, dtype=dtype, inputs=call, split=split.tags,
                implementation="loss_parallel" if implementation.spec == "loss_parallel" else "sharded")
    gate.check(record, sample, call, device, dtype, split, implementation.module_name, groups.on(device), rng, test)


def test_sharded_forward(sharded_case, sharded_groups, rng, impl, request):
    _run(sharded_case, sharded_groups, rng, impl, request, "forward")


@pytest.mark.checks("gradient")
def test_sharded_gradient(sharded_case, sharded_groups, rng, impl, request):
    _run(sharded_case, sharded_groups, rng, impl, request, "gradient")

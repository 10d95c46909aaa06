"""Everything of torch.nn.functional, for a mutant to override one function."""

from torch.nn.functional import *  # noqa: F401,F403

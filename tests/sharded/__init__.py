"""The sharded tier: losses whose class dimension is split over the ranks of ``torch.distributed``.

``lossref --world-size N [--impl MODULE]`` (``-m sharded --lossref-world-size N`` to pytest)
runs every registry sample of the losses whose class dimension can be sharded
(``interface.SHARDABLE``) on N real processes, with the class dimension split into contiguous
shards, and holds each rank's loss and its shard of the gradient to the dense reference.

- ``interface``: what a sharded implementation receives and returns (``ClassShard``), the
  splits, which arguments are sharded on which axis.
- ``ranks``: the N processes, started once per run, each running cases it is sent.
- ``gate``: the checks, in the pytest process, against the reference.
- ``collectives``: an implementation written with plain collectives, the worked example.
- ``loss_parallel``: torch's ``torch.distributed.tensor.parallel.loss_parallel``, adapted.
- ``mutants``: wrong implementations of the kind that has shipped, each failing a named check.
"""

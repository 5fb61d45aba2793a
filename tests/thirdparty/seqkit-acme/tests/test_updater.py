"""The acme_centralized updater against seqkit's updater kit."""

from typing import ClassVar

from seqkit.testing.updaters import UpdaterTests


class TestCentralized(UpdaterTests):
    name = "acme_centralized"
    options: ClassVar = {"min_ndim": 2}

"""tests/thirdparty holds whole plugin packages: their tests need the package installed, so seqkit's own test run
leaves them out; tests/test_third_party_plugin.py installs each into a fresh environment and runs them there."""

collect_ignore_glob = ["*"]

"""What the tests, the benchmarks and the scripts share without importing each other: sample
pictures made offline (`non_radiographs`), hostile files crafted in memory (`hostile_files`),
the app served headless on a free port for Chromium (`local_server`), and a real Orthanc with
test studies (`orthanc_server`); a real OpenID provider and signed-in or anonymous clients
(`oidc_login`), a watcher of the server's shared caches (`cache_probe`), a TLS proxy in front of
the app (`tls_proxy`) and the launcher started from another directory (`launcher_probe`). Not part of the product: nothing in `pneumo_core` imports it."""

__all__ = ["non_radiographs", "hostile_files", "local_server", "orthanc_server", "oidc_login", "cache_probe", "tls_proxy",
           "launcher_probe"]

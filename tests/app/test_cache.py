"""Shared model registries (ui/cache.py): no lock spans one session's build, so builds of different keys run side
by side, and one key is built once."""

from __future__ import annotations

import threading
import time

from ui import cache


def _build_in_threads(registry, keys, seconds=1.0):
    calls = []

    def build(key):
        calls.append(key)
        time.sleep(seconds)
        return f"model {key}"

    out = {}
    threads = [threading.Thread(target=lambda k=k: out.setdefault(threading.get_ident(),
                                                                   cache.build_once(registry, k, lambda: build(k))))
               for k in keys]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return time.monotonic() - t, calls, sorted(out.values())


def test_builds_for_different_keys_do_not_wait_on_each_other():
    elapsed, calls, got = _build_in_threads(cache.Registry(4), ["adult", "german"], seconds=1.5)
    assert sorted(calls) == ["adult", "german"]
    assert got == ["model adult", "model german"]
    assert elapsed < 2.7  # serialized would take 3 s


def test_one_key_asked_twice_at_once_is_built_once():
    registry = cache.Registry(4)
    _, calls, got = _build_in_threads(registry, ["adult", "adult"], seconds=0.5)
    assert calls == ["adult"] and got == ["model adult", "model adult"]
    assert not registry.lock("adult").locked()


def test_demo_models_train_outside_any_lock_shared_by_other_keys(monkeypatch):
    """demo_model holds only its own key's lock while the job runs."""
    registry = cache.Registry(4)
    monkeypatch.setattr(cache, "_demo_models", lambda: registry)
    held = {}

    def fake_train(dataset, kind, params, seed, progress, label):
        held["guard"] = registry.guard.locked()
        held["other"] = registry.lock(("german", kind, params, seed)).locked()
        return "trained"

    monkeypatch.setattr(cache, "_train", fake_train)
    assert cache.demo_model(None, "adult", "mlp", (), 0) == "trained"
    assert held == {"guard": False, "other": False}


def test_the_registry_keeps_its_newest_entries():
    registry = cache.Registry(2)
    for k in "abc":
        cache.build_once(registry, k, lambda k=k: k)
    assert list(registry.entries) == ["b", "c"] and "a" not in registry.locks

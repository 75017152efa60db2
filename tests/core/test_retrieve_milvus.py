"""The retrieval tests of test_retrieve.py that need only the `index` fixture, run again on the same
real-catalog subset indexed on Milvus Lite instead of the default hnswlib store."""
from __future__ import annotations

import inspect

import pytest

from polaris_core.index import ZooIndex
from tests.core import test_retrieve as default_store_tests
from tests.core.retrieval_fixtures import catalog_subset, embedding_cache


@pytest.fixture(scope="module", autouse=True)
def stop_milvus_lite_servers():
    """Milvus Lite keeps a server (and its threads) per .db file until the process exits: stop them with the
    module, so the tests after these do not share the CPU with idle servers."""
    yield
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_all()


@pytest.fixture(scope="module")
def index(shared_data, fixture_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrieve-milvus")
    built = ZooIndex.build(catalog_subset(shared_data, fixture_cache), folder / "index",
                           cache=embedding_cache(fixture_cache), milvus_uri=str(folder / "zoo.db"))
    loaded = ZooIndex.load(folder / "index")  # searched as a saved index is: through its manifest
    assert type(loaded.store).__name__ == "MilvusVectorStore" and len(loaded.store) == len(built.store)
    loaded.set_text_encoder(built.text_encoder)
    return loaded


# Every test there whose only fixture is `index` (picked by signature, so new ones join automatically).
for _name, _test in inspect.getmembers(default_store_tests, inspect.isfunction):
    if _name.startswith("test_") and list(inspect.signature(_test).parameters) == ["index"]:
        globals()[f"{_name}_on_milvus"] = _test

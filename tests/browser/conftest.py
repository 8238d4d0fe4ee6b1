from tests.inference.conftest import model_version, models_dir, test_model_dir  # noqa: F401

"""The exceptions users catch (chainrule.errors): each subclasses a built-in exception,
so ``except FloatingPointError`` or ``except ValueError`` catches it too, and
ModelFileError keeps the file and the problem beside its message."""

import pytest

import chainrule
from chainrule.errors import (
    DataError,
    ModelFileError,
    PartitionsLostError,
    TrainingDivergedError,
)


def test_training_diverged_error_is_a_floating_point_error():
    assert issubclass(TrainingDivergedError, FloatingPointError)
    with pytest.raises(FloatingPointError, match="the loss became nan at optimizer step 3"):
        raise TrainingDivergedError("the loss became nan at optimizer step 3")


def test_model_file_error_is_a_value_error_with_the_path_and_the_problem(tmp_path):
    path = tmp_path / "model.npz"
    error = ModelFileError(path, "the file is empty")
    assert isinstance(error, ValueError)
    assert error.path == str(path)  # a path-like becomes its string
    assert error.problem == "the file is empty"
    assert str(error) == f"cannot load model file {str(path)!r}: the file is empty"


def test_loading_a_bad_file_raises_model_file_error(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError) as info:
        chainrule.load(path)
    assert type(info.value) is ModelFileError
    assert info.value.path == str(path)
    assert "empty" in info.value.problem
    assert str(info.value) == f"cannot load model file {str(path)!r}: {info.value.problem}"


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)
    with pytest.raises(ValueError, match="'a' must hold numbers"):
        raise DataError("'a' must hold numbers, but row 6 holds text")


def test_the_exceptions_are_in_the_chainrule_namespace():
    assert chainrule.TrainingDivergedError is TrainingDivergedError
    assert chainrule.ModelFileError is ModelFileError
    assert chainrule.DataError is DataError
    assert chainrule.PartitionsLostError is PartitionsLostError
    assert sorted(chainrule.errors.__all__) == [
        "DataError",
        "ModelFileError",
        "PartitionsLostError",
        "TrainingDivergedError",
    ]


def test_partitions_lost_error_names_the_partitions_and_what_to_do():
    error = PartitionsLostError([1, 4], "Dask reported FutureCancelledError")
    assert isinstance(error, RuntimeError)
    assert error.partitions == [1, 4] and error.reason == "Dask reported FutureCancelledError"
    message = str(error)
    assert message.startswith(
        "data-parallel training lost partitions [1, 4] (0-based) of its data: Dask reported "
        "FutureCancelledError. The model was not trained on all the rows and is not returned."
    )
    assert "client.scatter" in message and "client.replicate" in message
    assert "lost some partitions" in str(PartitionsLostError([], "KilledWorker"))

"""Polaris errors. Every message says what went wrong and what to do next."""


class PolarisError(Exception):
    """Base class for every error Polaris raises on purpose."""


class ConfigError(PolarisError):
    """A setting, path or option is wrong."""


class ModelFileError(PolarisError):
    """A weights file is missing, unsafe (pickle), corrupt or of the wrong kind."""


class UnsafePathError(PolarisError):
    """A name or path tries to leave the folder it must stay in."""


class IntentError(PolarisError):
    """An intent (from a parser backend or a user) is not valid."""


class ParseError(PolarisError):
    """An instruction could not be parsed."""


class ZooError(PolarisError):
    """The model zoo or its metadata is unusable."""


class IndexFolderError(PolarisError):
    """The index folder is missing, corrupt or built with other encoders."""


class EmptyZooError(ZooError):
    """A search ran against a zoo with no entries of the requested kind."""


class ImageError(PolarisError):
    """An input image cannot be used."""


class MaskError(PolarisError):
    """No usable region could be found."""


class RerankError(PolarisError):
    """The reranker cannot score the candidates."""


class PlanError(PolarisError):
    """The chosen models cannot be combined."""


class Cancelled(PolarisError):
    """The user cancelled a long operation."""



class VectorError(PolarisError):
    """Vectors or labels handed to the vector store have the wrong shape, type or values."""


class VectorServiceError(IndexFolderError):
    """A vector-store service (Milvus) is unreachable, refuses, times out, or lacks the index's collection."""

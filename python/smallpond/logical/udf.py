"""The original's ``smallpond.logical.udf`` names."""

from smallpond._udf import (  # noqa: F401
    UDFAnyParameters,
    UDFListType,
    UDFMapType,
    UDFStructType,
    UDFType,
    UserDefinedFunction,
    udf,
)

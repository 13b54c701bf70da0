"""The forms of the identity API (`ApiForm`), one per `ApiVersion`."""

from __future__ import annotations

from ..version import ApiVersion
from .base import ApiForm
from .unversioned import UnversionedForm
from .v1 import V1Form

_FORMS: dict[ApiVersion, type[ApiForm]] = {
    ApiVersion.UNVERSIONED: UnversionedForm,
    ApiVersion.V1: V1Form,
}


def form_for(version: ApiVersion) -> ApiForm:
    return _FORMS[version]()


__all__ = ["ApiForm", "UnversionedForm", "V1Form", "form_for"]

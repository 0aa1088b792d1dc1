"""One error tree and one envelope, the same for the CLI and the API."""

from __future__ import annotations

import pickle

from truceguard.errors import (
    ConfigError,
    InputError,
    MissingColumnsError,
    MissingExtraError,
    RowError,
    TruceguardError,
    error_envelope,
    suggest,
    unknown_value,
)


def test_envelope_shape_is_locked() -> None:
    exc = InputError("--since '2020-27-07' is not a date", hint="use YYYY-MM-DD",
                     code="input.bad_date")
    assert error_envelope(exc) == {"error": {"code": "input.bad_date",
                                             "message": "--since '2020-27-07' is not a date",
                                             "hint": "use YYYY-MM-DD"}}
    assert error_envelope(ValueError("secret detail")) == {"error": {
        "code": "internal", "message": "internal error (ValueError)",
        "hint": "this is a bug in truceguard: please report it with the command you ran"}}


def test_every_error_has_a_code_and_survives_pickling() -> None:
    errors: list[TruceguardError] = [
        InputError("x", hint="h"), RowError("f.csv", 3, "lat", "91 is out of range", "raw"),
        MissingColumnsError("f.csv", ["lat"], ["a"]), ConfigError("t.yaml", "k", "bad", 4),
        MissingExtraError("--workers", "scale", "dask"),
    ]
    for e in errors:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and back.envelope() == e.envelope()
        assert e.code and e.hint, e


def test_suggestions_name_the_close_value() -> None:
    hint = suggest("minsk2015", ["minsk-2015", "geneva-2025"])
    assert hint.startswith("did you mean 'minsk-2015'")
    err = unknown_value("--status", "verifed", ["new", "verified"])
    assert "'verifed'" in err.message and "verified" in err.hint


def test_each_class_carries_its_http_status_and_exit_code() -> None:
    from truceguard import errors as e

    expected = {e.InputError: 400, e.TooLargeError: 413, e.StoreError: 503,
                e.StoreBusyError: 503, e.NotFoundError: 404, e.AuthError: 401,
                e.ForbiddenError: 403, e.ThrottledError: 429, e.InternalError: 500,
                e.MarkingError: 400}
    for cls, status in expected.items():
        assert cls.http_status == status, cls
        assert cls.exit_code == (70 if cls is e.InternalError else 1), cls
    assert e.TooLargeError("x").code == "input.too_large"
    assert e.StoreBusyError("x", retry_after_s=3).retry_after_s == 3
    assert e.ThrottledError("x", retry_after_s=0).retry_after_s == 1
    assert InputError("x").retry_after_s is None


def test_a_bug_with_a_request_id_names_it_and_nothing_else() -> None:
    from truceguard.errors import InternalError

    envelope = error_envelope(KeyError("/srv/secret/path"), request_id="0123abcd")
    assert envelope == {"error": {
        "code": "internal", "message": "internal error (KeyError)",
        "hint": "this is a bug in truceguard: please report it with the command you ran, and "
                "this request id: 0123abcd", "request_id": "0123abcd"}}
    exc = InternalError(KeyError("x"), "0123abcd")
    assert exc.envelope() == envelope
    assert pickle.loads(pickle.dumps(exc)).envelope() == envelope

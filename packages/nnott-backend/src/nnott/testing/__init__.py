"""Test aids shared by every nnott package (installed with nnott-backend).

The pytest plugin in :mod:`nnott.testing.pytest_plugin` is registered through the
``pytest11`` entry point, so every package's test suite gets it without a conftest:

- the ``gpu`` marker: such tests skip with the reason the GPU is unusable, on CPU runs;
- under ``NNOTT_DEVICE=gpu`` the session stops at once, failing, when no GPU is usable,
  so a GPU run can never pass by skipping everything;
- the active device and strict mode are restored after every test;
- the report header names the device the suite runs on.
"""

"""The patient portal: server-rendered pages for patients (intake, consent, surveys, alumni).

How a page is built (copy this for new pages):

* ``routes.py`` lists the routes; ``web.py`` is the request shell: :func:`web.load` gives
  the signed-in patient (or None) and the CSRF token, :func:`web.page` renders a template
  (only the named ``block`` when htmx asks), :func:`web.redirect` answers a successful
  POST (303, or ``HX-Redirect`` for htmx), :func:`web.csrf_ok` guards every POST.
* Reads run a named operation from ``graphql/operations/`` in-process as the patient
  (:func:`operations.run_operation`); writes call a domain service with the same
  principal inside :func:`web.in_transaction`. Never take a patient id from the request.
* Templates extend ``base.html``; the part htmx swaps is a ``{% block %}`` holding one
  element with an id, and the form inside it has both ``action``/``method`` (no
  JavaScript) and ``hx-post``/``hx-target`` (htmx). Errors re-render the block with
  status 422 and the values typed; ``field()`` and ``alert()`` are global macros.
* Views that need a signed-in patient are decorated with :func:`record.signed_in`.
"""

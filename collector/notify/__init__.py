"""Telling the IG team: email over SMTP and a generic JSON webhook.

Both take the same notice payload (``collector.workflow.notices``: no personal data) and
raise ``NotifyError`` for any failure, whatever the transport said.
"""

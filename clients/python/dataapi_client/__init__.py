"""Python client of DataAPI (SPEC "Client library").

``Writer`` sends messages and consents to the ingress through ``POST /batch`` and retries
until each one is accepted or rejected; ``Reader`` reads consented dialogs from the query
service through cursor pages or the export stream; ``Privacy`` makes a person's erasure and
access requests.
"""
from ._http import DataAPIError, Unavailable
from .reader import Dialog, Erasure, Message, Privacy, Reader
from .writer import Event, Outcome, QueueFull, Writer, WriterClosed

__all__ = ["DataAPIError", "Dialog", "Erasure", "Event", "Message", "Outcome", "Privacy",
           "QueueFull", "Reader", "Unavailable", "Writer", "WriterClosed"]
__version__ = "0.1.0"

"""The engine on its own thread: one long-lived worker, a latest-request mailbox, typed messages."""

"""The device side of a kiosk: its key pair and request signing, and the interfaces its peripherals
(ID-card reader, printer, document scanner) plug into, with development simulators. This part runs on
the kiosk machine (`docs/kiosk.md`); it imports nothing of the server but the signature rules."""

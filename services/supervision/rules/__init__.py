"""The pure rules of the supervision service (no I/O, no clock): the data model, the 双随机 draw, and
what a subject's records oblige the departments to do."""

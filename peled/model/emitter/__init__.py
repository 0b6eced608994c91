"""Emitter terms: the excitonic nanocrystal emitter (:mod:`.excitonic`)."""

"""Pure rules of the bridge: who may receive which outcome, the retry schedule, the national wire format."""

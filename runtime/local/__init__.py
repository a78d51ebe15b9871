"""The whole pipeline on one machine: real components, local stand-ins for AWS."""

"""MentorMesh's own shared code: the event contract, settings and Kafka/Mongo wiring."""

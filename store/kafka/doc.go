// Package kafka connects cohortd to Kafka with github.com/segmentio/kafka-go:
// a Consumer that reads a topic as a member of a consumer group and commits
// only the offsets it is told to (never automatically), and a Producer that
// delivers records (membership changes, dead letters) at least once, in order
// per key, with Flush to wait until everything sent so far is acknowledged.
//
// It knows nothing of events or cohorts: the real-time pipeline
// (server/realtime) decides what to apply and when an offset is safe to
// commit. kafka imports only kafka-go and the standard library.
package kafka

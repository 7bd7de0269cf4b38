// Package archtest holds tests of the code base's own rules: every package
// has exactly one package doc comment, and dependencies flow one way
// (transport → service → store → kv). It has no production code.
package archtest

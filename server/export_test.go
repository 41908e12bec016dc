package server

// Fingerprint lets tests make the claim a crashed request leaves behind.
var Fingerprint = fingerprint

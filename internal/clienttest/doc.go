// Package clienttest drives package client against a real server started in
// the test: client is a module of its own that must not depend on the server,
// so its tests that need one live here, in the main module.
package clienttest

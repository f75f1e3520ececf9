// Package deploy holds the deployment examples (Dockerfile at the
// repository root, kubernetes/, systemd/) and the tests that check them
// against the sidecar's real configuration loader and HTTP routes.
package deploy

#!/bin/sh
# Builds the plugin's Docker image, for restricted workflows run on Docker: acme/http:1.2.0 (the manifest's
# runtime.image, by default namespace/name:version), labelled with the plugin's content hash.
#
#   sh examples/plugins/http/build.sh                  # needs `workflow` on PATH and a Docker daemon
#   sh examples/plugins/http/build.sh --tag me/http:dev
#
# Arguments go to `workflow plugin build` as they are; the tests build the image with this script too.
set -eu
exec workflow plugin build "$(dirname "$0")" "$@"

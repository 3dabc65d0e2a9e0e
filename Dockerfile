# The vetted container image: the static Linux release binary (x86_64/aarch64 *-linux-musl) on
# distroless's static base, which holds CA certificates and a non-root user and nothing else (no
# shell, no package manager). The image is made from the release archives, not from source, so it
# runs exactly the binary whose SHA-256 the release's SHA256SUMS lists:
#   bash scripts/release/image-context.sh dist image   # checks dist/SHA256SUMS, unpacks linux/<arch>/vetted
#   docker buildx build --platform linux/amd64,linux/arm64 -t vetted image
#   docker run --rm -e DOCKERHUB_USERNAME -e DOCKERHUB_TOKEN -v "$PWD:/policy" vetted plan
# The base is pinned by digest (gcr.io/distroless/static-debian12:nonroot); move it in a reviewed
# commit that changes the digest.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG TARGETPLATFORM
COPY --chmod=0555 ${TARGETPLATFORM}/vetted /usr/local/bin/vetted
# distroless's nonroot user (uid and gid 65532).
USER 65532:65532
# Mount the policy repository here: `plan` reads vetted.toml and vetted.lock from it.
WORKDIR /policy
ENTRYPOINT ["/usr/local/bin/vetted"]
CMD ["--help"]

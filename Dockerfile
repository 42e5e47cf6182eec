# Builds the single `activity` binary into a small image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/activity ./cmd/activity

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/activity /usr/local/bin/activity
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/activity"]
CMD ["serve"]

package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCompose_FileRunsTheServiceWithPostgresAndRedisWithAOF checks the shape
// of docker-compose.yml on machines without Docker: the three services, Redis
// persisting its stream (AOF), and the service configured through the same
// environment variables main reads.
func TestCompose_FileRunsTheServiceWithPostgresAndRedisWithAOF(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]any    `yaml:"depends_on"`
			Healthcheck map[string]any    `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, redis, svc := f.Services["postgres"], f.Services["redis"], f.Services["activity"]
	if !strings.HasPrefix(pg.Image, "postgres:15") || pg.Healthcheck == nil {
		t.Errorf("postgres service: %+v", pg)
	}
	if !strings.HasPrefix(redis.Image, "redis:7") || !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes") {
		t.Errorf("redis service must run Redis 7 with AOF: %+v", redis)
	}
	if svc.Build == nil || len(svc.Command) == 0 || svc.Command[0] != "serve" {
		t.Errorf("activity service must build the image and run serve: %+v", svc)
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "ACTIVITY_HTTP_ADDR", "ACTIVITY_METRICS_ADDR", "ACTIVITY_ADMIN_KEY"} {
		if svc.Environment[name] == "" {
			t.Errorf("activity service sets no %s", name)
		}
	}
	if _, ok := svc.DependsOn["postgres"]; !ok {
		t.Error("activity service does not wait for postgres")
	}
	if _, ok := svc.DependsOn["redis"]; !ok {
		t.Error("activity service does not wait for redis")
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("the compose file builds from a Dockerfile: %v", err)
	}
}

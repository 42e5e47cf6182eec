module github.com/activity-dev/activity/sdk

go 1.26

#!/usr/bin/env bash
# Makes what bucketstream's example workflow expects: bucket "uploads", queue
# "bucketstream-events", a queue policy letting S3 send to the queue, and the bucket's
# s3:ObjectCreated:* notification to the queue. Idempotent.
#
# docker-compose.yml mounts this into /etc/localstack/init/ready.d, where LocalStack runs it
# (with awslocal) once it is ready. Against LocalStack started on the host by start.sh, run it
# with the venv's aws CLI on PATH:
#   PATH="$PWD/localstack/.venv/bin:$PATH" bash localstack/init/ready.d/10-bucketstream.sh
#
# Env: BUCKETSTREAM_BUCKET (default uploads), BUCKETSTREAM_QUEUE (default bucketstream-events),
#      LOCALSTACK_ENDPOINT (default http://127.0.0.1:4566; only used when awslocal is missing)
set -euo pipefail

bucket="${BUCKETSTREAM_BUCKET:-uploads}"
queue="${BUCKETSTREAM_QUEUE:-bucketstream-events}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

if command -v awslocal >/dev/null 2>&1; then
    aws_cli=(awslocal)
else
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
    export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
    aws_cli=(aws --endpoint-url "${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}")
fi
awsl() { "${aws_cli[@]}" "$@"; }

if ! awsl s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    awsl s3api create-bucket --bucket "$bucket" >/dev/null
fi

queue_url="$(awsl sqs create-queue --queue-name "$queue" --query QueueUrl --output text)"
queue_arn="$(awsl sqs get-queue-attributes --queue-url "$queue_url" \
    --attribute-names QueueArn --query Attributes.QueueArn --output text)"

policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
policy+='"Principal":{"Service":"s3.amazonaws.com"},"Action":"sqs:SendMessage",'
policy+="\"Resource\":\"$queue_arn\","
policy+="\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:s3:::$bucket\"}}}]}"
# The policy is a JSON document carried as a string inside the attributes' JSON.
awsl sqs set-queue-attributes --queue-url "$queue_url" \
    --attributes "{\"Policy\":\"${policy//\"/\\\"}\"}"

awsl s3api put-bucket-notification-configuration --bucket "$bucket" \
    --notification-configuration \
    "{\"QueueConfigurations\":[{\"QueueArn\":\"$queue_arn\",\"Events\":[\"s3:ObjectCreated:*\"]}]}"

echo "bucketstream: bucket s3://$bucket notifies $queue_arn on s3:ObjectCreated:*"

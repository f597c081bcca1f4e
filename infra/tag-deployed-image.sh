#!/usr/bin/env bash
# The smoke build (smoke.buildspec.yml), once an environment runs an image: tag that image <env>-<commit> beside its
# <commit> tag, so that the repository's lifecycle policy (infra/pipeline.template.yml, ProductServiceRepository)
# never expires an image an environment runs, however far prod lags dev. A stage rollback re-runs this for the
# image it returns to, which has the tag already: that is no failure.
# Needs IMAGE_URI (<registry>/<repository>:<commit>) and DEPLOY_ENV (dev, prod).
set -euo pipefail

repository="${IMAGE_URI#*/}"
repository="${repository%:*}"
commit="${IMAGE_URI##*:}"
tag="$DEPLOY_ENV-$commit"

# A new tag on an existing image is a put-image of its manifest, byte for byte, with the same media type
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html).
manifest=$(aws ecr batch-get-image --repository-name "$repository" --image-ids imageTag="$commit" \
  --query 'images[0].imageManifest' --output text)
media_type=$(aws ecr batch-get-image --repository-name "$repository" --image-ids imageTag="$commit" \
  --query 'images[0].imageManifestMediaType' --output text)
if error=$(aws ecr put-image --repository-name "$repository" --image-tag "$tag" --image-manifest "$manifest" \
  --image-manifest-media-type "$media_type" 2>&1 > /dev/null); then
  echo "tagged $repository:$commit as $tag"
elif [[ "$error" == *ImageAlreadyExistsException* ]]; then
  echo "$repository:$commit is tagged $tag already"
else
  echo "$error" >&2
  exit 1
fi

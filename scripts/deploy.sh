#!/usr/bin/env bash
# make deploy / make clean: check the prerequisites, init, plan into a file, ask, apply that plan.
#
#   scripts/deploy.sh deploy|clean TF_DIR TFVARS
#
# Environment: TF (Terraform CLI, default terraform), AUTO_APPROVE=1 (apply without asking),
# PLAN_DIR (default build/ of the repository), PYTHON (runs scripts/preflight.py; default the
# project's .venv when built, else python3), TF_CLI_CONFIG_FILE etc. as mk/terraform.mk exports.
#
# The plan file (PLAN_DIR/deploy.tfplan or destroy.tfplan) holds every input value in clear
# text, so it is removed on every exit path: applied, declined, plan or apply failed, Ctrl-C.
set -euo pipefail

usage() { echo "usage: $0 deploy|clean TF_DIR TFVARS" >&2; exit 2; }
[ $# -eq 3 ] || usage
action=$1 tf_dir=$2 tfvars=$3
case "$action" in
  deploy) plan_name=deploy.tfplan; plan_flags=(); question="Apply this plan" ;;
  clean) plan_name=destroy.tfplan; plan_flags=(-destroy); question="DESTROY everything in this plan" ;;
  *) usage ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TF=${TF:-terraform}
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$root/.venv/bin/python" ]; then PYTHON=$root/.venv/bin/python; else PYTHON=python3; fi
fi
plan_dir=${PLAN_DIR:-$root/build}

if [ -z "$tfvars" ]; then
  echo "usage: make $action TFVARS=path/to/file.tfvars [TF_DIR=$tf_dir]"
  echo "  start from $tf_dir/terraform.tfvars.example: cp $tf_dir/terraform.tfvars.example my.tfvars"
  exit 2
fi
[ -f "$tfvars" ] || { echo "no such file: $tfvars (TFVARS)"; exit 2; }
[ -d "$tf_dir" ] || { echo "no such directory: $tf_dir (TF_DIR)"; exit 2; }
tfvars_abs=$(cd "$(dirname "$tfvars")" && pwd)/$(basename "$tfvars")

mkdir -p "$plan_dir"
plan_file=$plan_dir/$plan_name
summary=$(mktemp "${TMPDIR:-/tmp}/braket-guard-preflight.XXXXXX")
cleanup() {
  rm -f "$plan_file" "$summary"
}
trap cleanup EXIT
# Ctrl-C or a kill: Terraform stops gracefully first (it gets the signal too); then exit, which
# runs cleanup.
trap 'echo; echo "$action: interrupted; the plan file was removed. Terraform state may be partial: see docs/deploy.md"; exit 130' INT
trap 'echo "$action: terminated; the plan file was removed."; exit 143' TERM HUP

# 1. Prerequisites, before anything is planned.
"$PYTHON" "$root/scripts/preflight.py" --tf-dir "$tf_dir" --tfvars "$tfvars_abs" --terraform "$TF" \
  --action "make $action" --summary-file "$summary" || exit $?
account=$(sed -n 's/^account=//p' "$summary")
region=$(sed -n 's/^region=//p' "$summary")

# 2. init, plan into the file. With the user's Terraform CLI configuration (mk/terraform.mk).
echo "$action: Terraform CLI configuration: ${TF_CLI_CONFIG_FILE:-the default of Terraform (~/.terraformrc when it exists)}"
(cd "$tf_dir" && "$TF" init -input=false)
(cd "$tf_dir" && "$TF" plan "${plan_flags[@]}" -input=false -var-file="$tfvars_abs" -out="$plan_file")
[ -s "$plan_file" ] || { echo "$action: terraform plan wrote no plan file $plan_file"; exit 1; }
echo "$action: plan saved to $plan_file ($(wc -c < "$plan_file" | tr -d ' ') bytes; removed when this command ends)"

# 3. Ask.
if [ "${AUTO_APPROVE:-}" = "1" ]; then
  echo "AUTO_APPROVE=1: $question of $tf_dir to account $account ($region) without asking"
else
  answer=
  read -r -p "$question of $tf_dir to AWS account $account (home region $region)? Type 'yes' to continue: " answer || true
  if [ "$answer" != "yes" ]; then
    echo "$action: aborted, nothing was changed; the plan file was removed."
    exit 1
  fi
fi

# 4. Apply exactly that plan. The var file again: ephemeral variables (the Slack URL) are in no
# plan file and must be given at apply; the others must equal the plan's or Terraform refuses.
if ! (cd "$tf_dir" && "$TF" apply -input=false -var-file="$tfvars_abs" "$plan_file"); then
  echo "$action: terraform apply failed; the plan file was removed. See docs/deploy.md (When a deploy fails)."
  exit 1
fi
if [ "$action" = deploy ]; then
  echo "deploy: done. Confirm the subscription mail AWS sent to each alert address, then check: braket-guard status"
else
  echo "clean: everything of $tf_dir was destroyed in account $account."
fi

#!/bin/sh
# 不用 Python 验证交换平台的回执：只需要 jq（1.6 及以上）和 OpenSSL 3。
#
#   verify-receipt.sh 回执或应答.json 所报送的记录.json 平台公钥.pem
#
# 1. 签名：Ed25519，签在“去掉 signature 后的回执”的规范 JSON 上（UTF-8、键名排序、无空白）；
#    回执里以后新增的字段（如 key_id）也在签名范围内，本脚本原样保留，不需要改。
# 2. 摘要：回执的 hash = SHA-256(规范 JSON 的 {"department": 部门, "record": 所报送的记录})，
#    证明平台保存的正是你发出的那一条。
# 公钥：curl -s "$INGEST_URL/v1/receipts/public-key" > 平台公钥.pem（回执带 key_id 时见 docs/接入指南.md §7）。
set -eu
[ $# -eq 3 ] || { echo "用法: $0 回执.json 记录.json 公钥.pem" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jq -c 'if has("receipt") then .receipt else . end' "$1" > "$work/receipt.json"
jq -jcS 'del(.signature)' "$work/receipt.json" > "$work/payload"
jq -r '.signature' "$work/receipt.json" | base64 -d > "$work/signature"
if openssl pkeyutl -verify -pubin -inkey "$3" -rawin -in "$work/payload" -sigfile "$work/signature" >/dev/null; then
  echo "签名有效 (signature valid)"
else
  echo "签名无效 (signature INVALID)"; exit 1
fi
department=$(jq -r '.department' "$work/receipt.json")
expected=$(jq -r '.hash' "$work/receipt.json")
actual=$(jq -jcS --arg d "$department" '{department: $d, record: .}' "$2" | sha256sum | cut -d ' ' -f 1)
if [ "$actual" = "$expected" ]; then
  echo "摘要一致 (hash matches): $actual"
else
  echo "摘要不一致 (hash differs): 回执 $expected, 记录 $actual"; exit 1
fi

path "secret/data/finance_report/previews/+/redis" {
  capabilities = ["read"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-staging-app" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-staging-backup" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-staging-postgres" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-staging-redis" {
  capabilities = ["read"]
}

path "secret/data/finance_report/staging/app" {
  capabilities = ["read"]
}

path "secret/data/finance_report/staging/backup" {
  capabilities = ["read"]
}

path "secret/data/finance_report/staging/postgres" {
  capabilities = ["read"]
}

path "secret/data/finance_report/staging/redis" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/app" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/backup" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/postgres" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-app" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-backup" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-postgres" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-app/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-backup/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-postgres/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-redis/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-app/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-staging-backup/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-staging-postgres/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-staging-redis/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

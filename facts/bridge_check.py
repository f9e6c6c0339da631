"""What a bridged provider's Check returns for a resource's inputs, i.e. what a policy pack (analyzer)
is handed as `props` (pulumi/pulumi pkg/resource/deploy/step_generator.go:1343 `inputs = resp.Properties`,
then :1408-1412 `plugin.AnalyzerResource{Properties: inputs}`).

Pure stdlib. Provider facts were read from source, and check_shape() was compared with the real
bridge Check run against the real provider schemas (see check_defaults.md, "How this was verified").

Versions read (see check_defaults.md for the version caveats; the program's uv.lock pins NEWER SDKs):
  bridge   pulumi/pulumi-terraform-bridge v3.133.0 (pulumi-docker v5.1.0) / v3.134.0 (pulumi-vault
           v7.11.0): identical Check path; pkg/tfbridge/schema.go line numbers are the same in both.
  docker   kreuzwerker/terraform-provider-docker 5074970c71ce6cc393c74942d5d628943834beb9 (= v4.5.0),
           paths below are internal/provider/<file>.go
  vault    hashicorp/terraform-provider-vault fa0a334404e3d04e4364467f51c6a4b4751848fd (= v5.10.1)
  random   hashicorp/terraform-provider-random f8d869dc98d90785f6c8f7131081fa5ef88f9d95 (= v3.9.0),
           a Plugin Framework provider: bridged through pkg/pf, whose Check adds NO TF defaults and
           NO __defaults (pkg/pf/tfbridge/provider_check.go:35-105 at bridge v3.135.0).

Bridge rules reproduced (pkg/tfbridge, tag v3.133.0):
  * provider.go:931-1068 Check: news unmarshalled with SkipNulls (:966-968), converted with TF
    defaults (:1044-1047), converted back (MakeTerraformOutputs :1053), Sensitive fields marked
    secret (:1057). No deleteDefaultsKey() here: that runs only in Read on refresh (:1508-1510).
  * schema.go:742-989 applyDefaults runs for EVERY object-typed value (top level and every element of
    a block list/set, including MaxItemsOne blocks, schema.go:524-551/620-686), never for maps
    (makeMapTerraformInputs :583-614). It sets result["__defaults"] to the sorted (:983-985, Go string
    order = byte order) list of Pulumi (camelCase) keys it filled in; the list is written even when
    empty (:986), so `"__defaults": []` stays in Check's output.
  * schema.go:959-967 (since v3.127.0): a TF schema default that is falsy (false, 0, "") is NOT
    synthesized (unless the field is Required and has a DefaultFunc), when it comes from the schema;
    a value replayed from the old inputs' __defaults is kept even if falsy.
  * Pulumi overlay defaults (the only one here: SetAutonaming(255, "-") on `name`,
    pkg/tfbridge/info/autonaming.go:43-63, 94-108, 147-229) are applied first (schema.go:770-889).
  * Every number comes back as a float64 (PropertyValue numbers are float64; MakeTerraformOutput
    schema.go:1196-1204); TypeInt values are truncated to an integer first (schema.go:446-447).
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

DEFAULTS_KEY = "__defaults"  # pulumi-terraform-bridge pkg/reservedkeys/keys.go:26
# Keys the bridge ignores in the program's inputs (schema.go:631, reservedkeys/keys.go:19,26,30,33-37)
RESERVED_KEYS = frozenset({"__meta", "__defaults", "__pulumi_raw_state_delta"})

# The engine's wire sentinel for an unknown value (pulumi sdk/go/common/resource/plugin/rpc.go
# UnknownStringValue). check_shape() passes it (and any value that is not None/bool/number/str/list/
# dict/Secret) through untouched: the bridge keeps unknowns unknown (schema.go:555-562, 1209-1212).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# Wire form of a secret (sdk/go/common/resource/properties.go SecretSig); handy as a secret_factory.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

BRIDGE_VERSION = (3, 133, 0)  # what pulumi-docker v5.1.0 uses; pulumi-vault v7.11.0 uses v3.134.0 (same Check)
FALSY_DEFAULTS_SUPPRESSED_SINCE = (3, 127, 0)  # commit 6e33544f9 (#3398)
SET_CONTENT_MATCHING_SINCE = (3, 126, 0)  # commit caa108586 (#3395): old set elements matched by content

AUTONAME_MAXLEN = 255  # docker provider/resources.go:404, vault provider/resources.go:561
AUTONAME_RANDLEN = 7  # info/autonaming.go:98
AUTONAME_SEPARATOR = "-"


class EnvDefault(NamedTuple):
    """A schema.EnvDefaultFunc(env_var, fallback) default: evaluated in the PROVIDER process's
    environment at Check time (terraform-plugin-sdk helper/schema EnvDefaultFunc: an empty variable
    falls back)."""

    env_var: str
    fallback: Any


# --------------------------------------------------------------------------------------------------
# TF_DEFAULTS: every Terraform schema default of the resources the program declares.
#   scalar entry:  camelName: default
#   block entries: camelName: {"__item__": {...}}   list/set of objects (every element gets __defaults)
#                  camelName: {"__object__": {...}} MaxItemsOne block (a single object in Pulumi)
# Every object-typed block is listed, even without defaults, because each such object gets its own
# "__defaults" key. Maps (logOpts, driverOpts, buildArgs, ...) are not blocks and get none.
# "falsy" entries are NOT added by Check since bridge v3.127.0 (they are by v3.120.0).
# --------------------------------------------------------------------------------------------------

_C = "resource_docker_container.go"

TF_DEFAULTS: dict[str, dict] = {
    "docker:index/container:Container": {  # resourceDockerContainer(), resource_docker_container.go:17
        "rm": False,  # :60 (falsy)
        "readOnly": False,  # :67 (falsy)
        "start": True,  # :75
        "wait": False,  # :82 (falsy)
        "waitTimeout": 60,  # :89
        "attach": False,  # :96 (falsy)
        "logs": False,  # :103 (falsy)
        "mustRun": True,  # :125
        "restart": "no",  # :233
        "removeVolumes": True,  # :259
        "memoryReservation": 0,  # :853 (falsy)
        "networkMode": "bridge",  # :906 (NOT deprecated, no ConflictsWith: added even with networksAdvanced)
        "containerReadRefreshTimeoutMilliseconds": 15000,  # :1102, const in resource_docker_container_funcs.go:34
        "tty": False,  # :1135 (falsy)
        "stdinOpen": False,  # :1142 (falsy)
        # No default (absent from Check output when unset): destroyGraceSeconds (:827), stopTimeout
        # (:321, Optional+Computed), init (:1126, Optional+Computed), privileged (:656),
        # publishAllPorts (:223), memory (:842), memorySwap, logDriver (Optional+Computed), user, ...
        "capabilities": {"__object__": {}},  # :262 TypeSet MaxItems 1
        "mounts": {  # :328 TypeSet
            "__item__": {
                "bindOptions": {"__object__": {}},  # :356 MaxItems 1
                "volumeOptions": {"__object__": {"labels": {"__item__": {}}}},  # :372, labels :384
                "tmpfsOptions": {"__object__": {}},  # :410 MaxItems 1
            }
        },
        "volumes": {"__item__": {}},  # :434 TypeSet, no defaults
        "ports": {"__item__": {"ip": "0.0.0.0", "protocol": "tcp"}},  # :487 TypeList; ip :512, protocol :528
        "hosts": {"__item__": {}},  # :537 TypeSet `host`
        "ulimits": {"__item__": {}},  # :561 TypeSet `ulimit`
        "devices": {"__item__": {"permissions": "rwm"}},  # :663 TypeSet; permissions :687
        "deviceReadBps": {"__item__": {}},  # :693
        "deviceReadIops": {"__item__": {}},  # :713
        "deviceWriteBps": {"__item__": {}},  # :733
        "deviceWriteIops": {"__item__": {}},  # :753
        "deviceRequests": {"__item__": {"driver": "cdi", "count": 0}},  # :774; driver :786, count :793 (falsy)
        "labels": {"__item__": {}},  # :833 TypeSet of {label, value}
        "networksAdvanced": {"__item__": {}},  # :909 TypeSet, no defaults
        "uploads": {"__item__": {"executable": False}},  # :987 TypeSet `upload`; executable :1018 (falsy)
        "healthcheck": {  # :1045 TypeList MaxItems 1, Optional+Computed
            "__object__": {
                "interval": "0s",  # :1062
                "timeout": "0s",  # :1069
                "startPeriod": "0s",  # :1076
                "startInterval": "0s",  # :1083
                "retries": 0,  # :1090 (falsy)
            }
        },
    },
    "docker:index/network:Network": {  # resourceDockerNetwork(), resource_docker_network.go:13
        "ipamDriver": "default",  # :88
        "labels": {"__item__": {}},  # :32 (Elem labelSchema, helpers.go:76)
        "ipamConfigs": {"__item__": {}},  # :99 TypeSet, Optional+Computed
    },
    "docker:index/volume:Volume": {  # resourceDockerVolume(), resource_docker_volume.go:28
        "labels": {"__item__": {}},  # :48
        "cluster": {  # :73 TypeList MaxItems 1
            "__object__": {
                "scope": "single",  # :91
                "sharing": "none",  # :99
                "type": "block",  # :107
                "topologyPreferred": "",  # :114 (falsy)
                "topologyRequired": "",  # :121 (falsy)
                "group": "",  # :140 (falsy)
                "availability": "active",  # :147
            }
        },
    },
    "docker:index/remoteImage:RemoteImage": {  # TF docker_image, resourceDockerImage(), resource_docker_image.go:15
        "platform": "",  # :94 (falsy)
        "build": {  # :76 TypeSet MaxItems 1, Elem buildSchema
            "__object__": {
                "dockerfile": "Dockerfile",  # :107
                "remove": True,  # :121
                "useLegacyBuilder": False,  # :450 (falsy)
                "builder": EnvDefault("BUILDX_BUILDER", ""),  # :458 DefaultFunc; "" is falsy
                "secrets": {"__item__": {}},  # :124
                "ulimits": {"__item__": {}},  # :258
                "authConfigs": {"__item__": {}},  # :295
            }
        },
    },
    "vault:index/policy:Policy": {},  # policyResource(), vault/resource_policy.go:16: no defaults
    "vault:appRole/authBackendRole:AuthBackendRole": {  # vault/resource_approle_auth_backend_role.go:26
        "bindSecretId": True,  # :43
        "localSecretIds": False,  # :68 (falsy)
        "backend": "approle",  # :75
        # token_* fields from addTokenFields (vault/auth_token.go:58-154, called at :83): only
        # token_type has a default.
        "tokenType": "default",  # vault/auth_token.go:130 (config.TokenTypeDefault, set to "default" at :59-61)
    },
    "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId": {  # ..._role_secret_id.go:24
        "backend": "approle",  # :106
    },
    "vault:kv/secretV2:SecretV2": {  # kvSecretV2Resource(), vault/resource_kv_secret_v2.go:49
        "disableRead": False,  # :98 (falsy)
        "deleteAllVersions": False,  # :149 (falsy)
        "customMetadata": {"__object__": {}},  # :153 TypeList MaxItems 1, no defaults
    },
    # runtime swarm. resourceDockerService(), resource_docker_service.go:9 (_S below).
    "docker:index/service:Service": {
        "auth": {  # :22 TypeList MaxItems 1
            "__object__": {
                "username": EnvDefault("DOCKER_REGISTRY_USER", ""),  # :41 DefaultFunc
                "password": EnvDefault("DOCKER_REGISTRY_PASS", ""),  # :48 DefaultFunc
            }
        },
        "labels": {"__item__": {}},  # :60 TypeSet (labelSchemaUpdatable)
        "taskSpec": {  # :67 TypeList MaxItems 1
            "__object__": {
                "containerSpec": {  # :74
                    "__object__": {
                        "isolation": "default",  # :498
                        "labels": {"__item__": {}},  # :86
                        "privileges": {  # :131
                            "__object__": {
                                "credentialSpec": {"__object__": {}},  # :138
                                "seLinuxContext": {"__object__": {}},  # :158
                            }
                        },
                        "mounts": {  # :201 TypeSet
                            "__item__": {
                                "bindOptions": {"__object__": {"propagation": "rprivate"}},  # :228, :238
                                "volumeOptions": {"__object__": {"labels": {"__item__": {}}}},  # :245, :257
                                "tmpfsOptions": {"__object__": {}},  # :277
                            }
                        },
                        "healthcheck": {  # :312
                            "__object__": {
                                "interval": "0s",  # :329
                                "timeout": "0s",  # :336
                                "startPeriod": "0s",  # :343
                                "retries": 0,  # :350 (falsy)
                            }
                        },
                        "hosts": {"__item__": {}},  # :357
                        "dnsConfig": {"__object__": {}},  # :380
                        "secrets": {"__item__": {"fileUid": "0", "fileGid": "0", "fileMode": 0o444}},  # :409, :433-445
                        "configs": {"__item__": {"fileUid": "0", "fileGid": "0", "fileMode": 0o444}},  # :452, :476-488
                    }
                },
                "resources": {  # :529
                    "__object__": {
                        "limits": {"__object__": {}},  # :537
                        "reservation": {"__object__": {"genericResources": {"__object__": {}}}},  # :557, :574
                    }
                },
                "restartPolicy": {"__object__": {}},  # :602
                "placement": {"__object__": {"platforms": {"__item__": {}}}},  # :637, :665
                "networksAdvanceds": {"__item__": {}},  # :701
                "logDriver": {"__object__": {}},  # :738
            }
        },
        "mode": {  # :762
            "__object__": {
                "replicated": {"__object__": {"replicas": 1}},  # :771, :783
                "global": False,  # :793 (falsy)
            }
        },
        "updateConfig": {  # :800
            "__object__": {
                "parallelism": 1,  # :810
                "delay": "0s",  # :817
                "failureAction": "pause",  # :824
                "monitor": "5s",  # :831
                "maxFailureRatio": "0.0",  # :838
                "order": "stop-first",  # :846
            }
        },
        "rollbackConfig": {  # :853
            "__object__": {
                "parallelism": 1,  # :863
                "delay": "0s",  # :870
                "failureAction": "pause",  # :877
                "monitor": "5s",  # :884
                "maxFailureRatio": "0.0",  # :891
                "order": "stop-first",  # :899
            }
        },
        "endpointSpec": {"__object__": {"ports": {"__item__": {"protocol": "tcp", "publishMode": "ingress"}}}},  # :906
        "convergeConfig": {"__object__": {"delay": "7s", "timeout": "3m"}},  # :963, :974, :981
    },
    "docker:index/secret:Secret": {"labels": {"__item__": {}}},  # resource_docker_secret.go:39 (Sensitive data :34)
    "docker:index/serviceConfig:ServiceConfig": {"labels": {"__item__": {}}},  # resource_docker_config.go:49
    # Plugin Framework resources: Check applies none of their schema defaults (see PF_PLAN_DEFAULTS).
    "random:index/randomPassword:RandomPassword": {},
    "random:index/randomBytes:RandomBytes": {},
}

# Documentation only: Plugin Framework schema defaults of the random resources. They are applied at
# PLAN time by the provider (Diff/Create), never by the bridge's Check, so the analyzer never sees them.
# internal/provider/resource_password.go (passwordSchemaV3 :557) and resource_bytes.go (:133).
PF_PLAN_DEFAULTS: dict[str, dict] = {
    "random:index/randomPassword:RandomPassword": {
        "special": True,  # :602
        "upper": True,  # :612
        "lower": True,  # :622
        "minNumeric": 0,  # :672
        "minUpper": 0,  # :682
        "minLower": 0,  # :692
        "minSpecial": 0,  # :702
        # number (:628, deprecated) and numeric (:649) have no Default: Optional+Computed, set by a
        # plan modifier (NumberNumericAttributePlanModifier), effectively true.
    },
    "random:index/randomBytes:RandomBytes": {},  # keepers, length (Required): no defaults
}

# Resources whose `name` is auto-named by the Pulumi overlay when unset (SetAutonaming skips a
# resource whose ResourceInfo.Fields already has "name": docker_image has Fields{"name": {Name:"name"}},
# pulumi-docker provider/resources.go:127-132).
AUTONAMED: frozenset[str] = frozenset(
    {
        "docker:index/container:Container",
        "docker:index/network:Network",
        "docker:index/volume:Volume",
        "docker:index/service:Service",
        "docker:index/secret:Secret",
        "docker:index/serviceConfig:ServiceConfig",
        "vault:index/policy:Policy",
        "vault:kv/secretV2:SecretV2",
    }
)

# Inputs declared Sensitive upstream: Check returns them as secrets (MarkSchemaSecrets,
# provider.go:1057, secrets.go:28-101) even when the program passed them plain.
SENSITIVE_INPUTS: dict[str, frozenset[str]] = {
    "docker:index/secret:Secret": frozenset({"data"}),  # resource_docker_secret.go:34
    "vault:kv/secretV2:SecretV2": frozenset({"dataJson"}),  # resource_kv_secret_v2.go:115
    "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId": frozenset({"secretId"}),  # :44
}

# --------------------------------------------------------------------------------------------------
# _FIELDS: Terraform type of every input property (Pulumi names), generated from the provider schemas
# at the commits above (a Go program walking provider.ResourcesMap), names checked against
# pulumi-docker v5.1.0 schema.json and pulumi-vault's Python SDK getters.
#   's' string  'i' int  'b' bool  'f' float
#   '[s' list of strings  '{s' set of strings
#   'm' map without element schema  'm:s' map of strings
#   ('L'|'S'|'1L'|'1S', {...}) block list / block set / MaxItemsOne block list / block set
# --------------------------------------------------------------------------------------------------

_LABEL = ("S", {"label": "s", "value": "s"})

_FIELDS: dict[str, dict[str, Any]] = {
    "docker:index/container:Container": {
        "attach": "b",
        "capabilities": ("1S", {"adds": "{s", "drops": "{s"}),
        "cgroupParent": "s",
        "cgroupnsMode": "s",
        "command": "[s",
        "containerReadRefreshTimeoutMilliseconds": "i",
        "cpuPeriod": "i",
        "cpuQuota": "i",
        "cpuSet": "s",
        "cpuShares": "i",
        "cpus": "s",
        "destroyGraceSeconds": "i",
        "deviceReadBps": ("S", {"path": "s", "rate": "i"}),
        "deviceReadIops": ("S", {"path": "s", "rate": "i"}),
        "deviceRequests": (
            "S",
            {"capabilities": "{s", "count": "i", "deviceIds": "{s", "driver": "s", "options": "m:s"},
        ),
        "deviceWriteBps": ("S", {"path": "s", "rate": "i"}),
        "deviceWriteIops": ("S", {"path": "s", "rate": "i"}),
        "devices": ("S", {"containerPath": "s", "hostPath": "s", "permissions": "s"}),
        "dns": "{s",
        "dnsOpts": "{s",
        "dnsSearches": "{s",
        "domainname": "s",
        "entrypoints": "[s",
        "envs": "{s",
        "gpus": "s",
        "groupAdds": "{s",
        "healthcheck": (
            "1L",
            {"interval": "s", "retries": "i", "startInterval": "s", "startPeriod": "s", "tests": "[s", "timeout": "s"},
        ),
        "hostname": "s",
        "hosts": ("S", {"host": "s", "ip": "s"}),
        "image": "s",
        "init": "b",
        "ipcMode": "s",
        "labels": _LABEL,
        "logDriver": "s",
        "logOpts": "m",
        "logs": "b",
        "maxRetryCount": "i",
        "memory": "i",
        "memoryReservation": "i",
        "memorySwap": "i",
        "mounts": (
            "S",
            {
                "bindOptions": ("1L", {"propagation": "s"}),
                "readOnly": "b",
                "source": "s",
                "target": "s",
                "tmpfsOptions": ("1L", {"mode": "i", "sizeBytes": "i"}),
                "type": "s",
                "volumeOptions": (
                    "1L",
                    {"driverName": "s", "driverOptions": "m:s", "labels": _LABEL, "noCopy": "b", "subpath": "s"},
                ),
            },
        ),
        "mustRun": "b",
        "name": "s",
        "networkMode": "s",
        "networksAdvanced": (
            "S",
            {
                "aliases": "{s",
                "driverOpts": "{s",
                "gwPriority": "i",
                "ipv4Address": "s",
                "ipv6Address": "s",
                "linkLocalIps": "{s",
                "macAddress": "s",
                "name": "s",
            },
        ),
        "pidMode": "s",
        "platform": "s",
        "ports": ("L", {"external": "i", "internal": "i", "ip": "s", "protocol": "s"}),
        "privileged": "b",
        "publishAllPorts": "b",
        "readOnly": "b",
        "removeVolumes": "b",
        "restart": "s",
        "rm": "b",
        "runtime": "s",
        "securityOpts": "{s",
        "shmSize": "i",
        "start": "b",
        "stdinOpen": "b",
        "stopSignal": "s",
        "stopTimeout": "i",
        "storageOpts": "m",
        "sysctls": "m",
        "tmpfs": "m",
        "tty": "b",
        "ulimits": ("S", {"hard": "i", "name": "s", "soft": "i"}),
        "uploads": (
            "S",
            {
                "content": "s",
                "contentBase64": "s",
                "executable": "b",
                "file": "s",
                "permissions": "s",
                "source": "s",
                "sourceHash": "s",
            },
        ),
        "user": "s",
        "usernsMode": "s",
        "volumes": (
            "S",
            {
                "containerPath": "s",
                "fromContainer": "s",
                "hostPath": "s",
                "readOnly": "b",
                "selinuxRelabel": "s",
                "volumeName": "s",
            },
        ),
        "wait": "b",
        "waitTimeout": "i",
        "workingDir": "s",
    },
    "docker:index/network:Network": {
        "attachable": "b",
        "driver": "s",
        "ingress": "b",
        "internal": "b",
        "ipamConfigs": ("S", {"auxAddress": "m", "gateway": "s", "ipRange": "s", "subnet": "s"}),
        "ipamDriver": "s",
        "ipamOptions": "m",
        "ipv6": "b",
        "labels": _LABEL,
        "name": "s",
        "options": "m",
    },
    "docker:index/volume:Volume": {
        "cluster": (
            "1L",
            {
                "availability": "s",
                "group": "s",
                "limitBytes": "s",
                "requiredBytes": "s",
                "scope": "s",
                "sharing": "s",
                "topologyPreferred": "s",
                "topologyRequired": "s",
                "type": "s",
            },
        ),
        "driver": "s",
        "driverOpts": "m",
        "labels": _LABEL,
        "name": "s",
    },
    "docker:index/remoteImage:RemoteImage": {
        "build": (
            "1S",
            {
                "additionalContexts": "[s",
                "authConfigs": (
                    "L",
                    {
                        "auth": "s",
                        "email": "s",
                        "hostName": "s",
                        "identityToken": "s",
                        "password": "s",
                        "registryToken": "s",
                        "serverAddress": "s",
                        "userName": "s",
                    },
                ),
                "buildArgs": "m:s",
                "buildId": "s",
                "buildLogFile": "s",
                "builder": "s",
                "cacheFroms": "[s",
                "cacheTos": "[s",
                "cgroupParent": "s",
                "context": "s",
                "cpuPeriod": "i",
                "cpuQuota": "i",
                "cpuSetCpus": "s",
                "cpuSetMems": "s",
                "cpuShares": "i",
                "dockerfile": "s",
                "extraHosts": "[s",
                "forceRemove": "b",
                "isolation": "s",
                "label": "m:s",
                "labels": "m:s",
                "memory": "i",
                "memorySwap": "i",
                "networkMode": "s",
                "noCache": "b",
                "platform": "s",
                "provenance": "s",
                "pullParent": "b",
                "remoteContext": "s",
                "remove": "b",
                "sbom": "s",
                "secrets": ("L", {"env": "s", "id": "s", "src": "s"}),
                "securityOpts": "[s",
                "sessionId": "s",
                "shmSize": "i",
                "squash": "b",
                "suppressOutput": "b",
                "tags": "[s",
                "target": "s",
                "ulimits": ("L", {"hard": "i", "name": "s", "soft": "i"}),
                "useLegacyBuilder": "b",
                "version": "s",
            },
        ),
        "forceRemove": "b",
        "keepLocally": "b",
        "name": "s",
        "platform": "s",
        "pullTriggers": "{s",
        "triggers": "m",
    },
    "docker:index/service:Service": {
        "auth": ("1L", {"password": "s", "serverAddress": "s", "username": "s"}),
        "convergeConfig": ("1L", {"delay": "s", "timeout": "s"}),
        "endpointSpec": (
            "1L",
            {
                "mode": "s",
                "ports": (
                    "L",
                    {"name": "s", "protocol": "s", "publishMode": "s", "publishedPort": "i", "targetPort": "i"},
                ),
            },
        ),
        "labels": _LABEL,
        "mode": ("1L", {"global": "b", "replicated": ("1L", {"replicas": "i"})}),
        "name": "s",
        "rollbackConfig": (
            "1L",
            {
                "delay": "s",
                "failureAction": "s",
                "maxFailureRatio": "s",
                "monitor": "s",
                "order": "s",
                "parallelism": "i",
            },
        ),
        "taskSpec": (
            "1L",
            {
                "containerSpec": (
                    "1L",
                    {
                        "args": "[s",
                        "capAdds": "[s",
                        "capDrops": "[s",
                        "commands": "[s",
                        "configs": (
                            "S",
                            {
                                "configId": "s",
                                "configName": "s",
                                "fileGid": "s",
                                "fileMode": "i",
                                "fileName": "s",
                                "fileUid": "s",
                            },
                        ),
                        "dir": "s",
                        "dnsConfig": ("1L", {"nameservers": "[s", "options": "[s", "search": "[s"}),
                        "env": "m:s",
                        "groups": "[s",
                        "healthcheck": (
                            "1L",
                            {"interval": "s", "retries": "i", "startPeriod": "s", "tests": "[s", "timeout": "s"},
                        ),
                        "hostname": "s",
                        "hosts": ("S", {"host": "s", "ip": "s"}),
                        "image": "s",
                        "init": "b",
                        "isolation": "s",
                        "labels": _LABEL,
                        "mounts": (
                            "S",
                            {
                                "bindOptions": ("1L", {"propagation": "s"}),
                                "readOnly": "b",
                                "source": "s",
                                "target": "s",
                                "tmpfsOptions": ("1L", {"mode": "i", "sizeBytes": "i"}),
                                "type": "s",
                                "volumeOptions": (
                                    "1L",
                                    {"driverName": "s", "driverOptions": "m:s", "labels": _LABEL, "noCopy": "b"},
                                ),
                            },
                        ),
                        "privileges": (
                            "1L",
                            {
                                "credentialSpec": ("1L", {"file": "s", "registry": "s"}),
                                "seLinuxContext": (
                                    "1L",
                                    {"disable": "b", "level": "s", "role": "s", "type": "s", "user": "s"},
                                ),
                            },
                        ),
                        "readOnly": "b",
                        "secrets": (
                            "S",
                            {
                                "fileGid": "s",
                                "fileMode": "i",
                                "fileName": "s",
                                "fileUid": "s",
                                "secretId": "s",
                                "secretName": "s",
                            },
                        ),
                        "stopGracePeriod": "s",
                        "stopSignal": "s",
                        "sysctl": "m",
                        "user": "s",
                    },
                ),
                "forceUpdate": "i",
                "logDriver": ("1L", {"name": "s", "options": "m:s"}),
                "networksAdvanceds": ("S", {"aliases": "{s", "driverOpts": "{s", "id": "s", "name": "s"}),
                "placement": (
                    "1L",
                    {
                        "constraints": "{s",
                        "maxReplicas": "i",
                        "platforms": ("S", {"architecture": "s", "os": "s"}),
                        "prefs": "{s",
                    },
                ),
                "resources": (
                    "1L",
                    {
                        "limits": ("1L", {"memoryBytes": "i", "nanoCpus": "i"}),
                        "reservation": (
                            "1L",
                            {
                                "genericResources": (
                                    "1L",
                                    {"discreteResourcesSpecs": "{s", "namedResourcesSpecs": "{s"},
                                ),
                                "memoryBytes": "i",
                                "nanoCpus": "i",
                            },
                        ),
                    },
                ),
                "restartPolicy": ("1L", {"condition": "s", "delay": "s", "maxAttempts": "i", "window": "s"}),
                "runtime": "s",
            },
        ),
        "updateConfig": (
            "1L",
            {
                "delay": "s",
                "failureAction": "s",
                "maxFailureRatio": "s",
                "monitor": "s",
                "order": "s",
                "parallelism": "i",
            },
        ),
    },
    "docker:index/secret:Secret": {"data": "s", "labels": _LABEL, "name": "s"},
    "docker:index/serviceConfig:ServiceConfig": {"data": "s", "dataRaw": "s", "labels": _LABEL, "name": "s"},
    "vault:index/policy:Policy": {"allowOverwrite": "b", "name": "s", "namespace": "s", "policy": "s"},
    "vault:appRole/authBackendRole:AuthBackendRole": {
        "aliasMetadata": "m",
        "backend": "s",
        "bindSecretId": "b",
        "localSecretIds": "b",
        "namespace": "s",
        "roleId": "s",
        "roleName": "s",
        "secretIdBoundCidrs": "{s",
        "secretIdNumUses": "i",
        "secretIdTtl": "i",
        "tokenBoundCidrs": "{s",
        "tokenExplicitMaxTtl": "i",
        "tokenMaxTtl": "i",
        "tokenNoDefaultPolicy": "b",
        "tokenNumUses": "i",
        "tokenPeriod": "i",
        "tokenPolicies": "{s",
        "tokenTtl": "i",
        "tokenType": "s",
    },
    "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId": {
        "backend": "s",
        "cidrLists": "{s",
        "metadata": "s",
        "namespace": "s",
        "numUses": "i",
        "roleName": "s",
        "secretId": "s",
        "tokenBoundCidrs": "{s",
        "ttl": "i",
        "withWrappedAccessor": "b",
        "wrappingTtl": "s",
    },
    "vault:kv/secretV2:SecretV2": {
        "cas": "i",
        "customMetadata": ("1L", {"casRequired": "b", "data": "m", "deleteVersionAfter": "i", "maxVersions": "i"}),
        "dataJson": "s",
        "dataJsonWo": "s",
        "dataJsonWoVersion": "i",
        "deleteAllVersions": "b",
        "disableRead": "b",
        "mount": "s",
        "name": "s",
        "namespace": "s",
        "options": "m",
    },
}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def is_falsy_default(value: Any) -> bool:
    """shouldSuppressTFSchemaDefaultValue, schema.go:991-1006 (via normalizeTFDefaultValue, defaults.go:39-68)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, str):
        return value == ""
    return False


def _resolve_default(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, EnvDefault):
        got = env.get(value.env_var, "")
        return got if got != "" else value.fallback
    return value


def applied_defaults(
    type_token: str,
    *,
    bridge_version: tuple[int, int, int] = BRIDGE_VERSION,
    env: Mapping[str, str] | None = None,
) -> dict:
    """TF_DEFAULTS[type_token] reduced to what a fresh Check synthesizes (same nesting, EnvDefaults
    resolved against `env`, falsy defaults dropped for bridge >= v3.127.0)."""
    env = env or {}

    def reduce(spec: Mapping[str, Any]) -> dict:
        out: dict = {}
        for key, value in spec.items():
            if isinstance(value, dict):
                ((kind, children),) = value.items()
                out[key] = {kind: reduce(children)}
                continue
            value = _resolve_default(value, env)
            if bridge_version >= FALSY_DEFAULTS_SUPPRESSED_SINCE and is_falsy_default(value):
                continue
            out[key] = value
        return out

    if type_token.startswith("random:"):
        return {}
    return reduce(TF_DEFAULTS[type_token])


def _is_secret(value: Any) -> bool:
    # pulumi_policy.Secret (remediations) or the wire form {SIG_KEY: SECRET_SIG, "value": ...}
    if type(value).__name__ == "Secret" and hasattr(value, "value"):
        return True
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG and "value" in value


def _secret_value(value: Any) -> Any:
    return value["value"] if isinstance(value, Mapping) else value.value


def _strip_secrets(value: Any) -> Any:
    """The engine sends no secrets to these providers (their Configure answers AcceptSecrets=false:
    bridge provider.go:924-927, muxer pkg/x/muxer/muxer.go:309-349, pf provider_server.go:330-343), so
    the engine unwraps them (pulumi provider_plugin.go:1203-1210, KeepSecrets: protocol.acceptSecrets)."""
    if _is_secret(value):
        return _strip_secrets(_secret_value(value))
    if isinstance(value, Mapping):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strip_secrets(v) for v in value]
    return value


def _contains_secrets(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(_contains_secrets(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_secrets(v) for v in value)
    return False


def _annotate_secrets(outs: dict, ins: Mapping[str, Any], make_secret: Callable[[Any], Any]) -> None:
    """pulumi sdk/go/common/resource/plugin/provider_plugin.go:913-929 (applied at :1264-1266 because
    the provider does not accept secrets): recurse through objects, wrap anything else wholesale."""
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if (
            isinstance(out_value, dict)
            and not _is_secret(out_value)
            and isinstance(in_value, Mapping)
            and not _is_secret(in_value)
        ):
            _annotate_secrets(out_value, in_value, make_secret)
        elif not _is_secret(out_value) and _contains_secrets(in_value):
            outs[key] = make_secret(out_value)


def _opaque(value: Any) -> bool:
    """Unknowns and anything check_shape does not understand pass through untouched."""
    if isinstance(value, str):
        return value == UNKNOWN
    return not isinstance(value, (bool, int, float, list, tuple, Mapping)) and value is not None


_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_GO_BOOL = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def _go_format_f(number: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64) (schema.go:444-445)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = format(decimal.Decimal(repr(float(number))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _untyped(value: Any) -> Any:
    """A value without a TF schema (unknown key, or a map without Elem like docker's log_opts):
    makeTerraformInput with an empty schema (schema.go:423-425) makes numbers Go ints (:446-447)."""
    if _opaque(value) or value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(math.trunc(value))
    if isinstance(value, Mapping):
        return {k: _untyped(v) for k, v in value.items() if v is not None}
    return [_untyped(v) for v in value]


def _scalar(value: Any, code: str) -> Any:
    """makeTerraformInput (schema.go:427-457) then MakeTerraformOutput (:1193-1227)."""
    if _opaque(value) or value is None:
        return value
    if isinstance(value, (list, tuple, Mapping)):
        return _untyped(value)
    if code == "s":
        if isinstance(value, bool):
            return "true" if value else "false"  # :432-436
        if isinstance(value, (int, float)):
            return _go_format_f(value)  # :444-445
        return value
    if code == "i":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return float(math.trunc(value))  # :446-447 int(v.NumberValue())
        if _GO_INT.match(value):  # :451-454 strconv.ParseInt(v, 10, 64); an error fails the Check RPC
            return float(int(value))
        raise ValueError(f"bridge Check fails: cannot parse {value!r} as an integer")
    if code == "b":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return float(math.trunc(value))
        return _GO_BOOL.get(value, value)  # CoerceTerraformString -> convertTfStringToBool :1629-1635
    if code == "f":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except ValueError:
            return value
    raise AssertionError(code)


def _match_set(news: list, olds: list) -> dict[int, int]:
    """matchSetElements (schema.go:1657-1716, called at :466): new index -> old index, greedy by
    score (+1 shared key, +2 equal value). Go's sort.Slice is not stable; ties are taken here in
    (new, old) order."""
    candidates = []
    for ni, new in enumerate(news):
        for oi, old in enumerate(olds):
            score = 0
            for key, new_value in new.items():
                if key in old:
                    score += 1
                    if old[key] == new_value:
                        score += 2
            candidates.append((ni, oi, score))
    candidates.sort(key=lambda c: -c[2])
    mapping: dict[int, int] = {}
    used_old: set[int] = set()
    for ni, oi, _ in candidates:
        if ni in mapping or oi in used_old:
            continue
        mapping[ni] = oi
        used_old.add(oi)
    return mapping


class _Ctx(NamedTuple):
    token: str
    bridge_version: tuple[int, int, int]
    env: Mapping[str, str]
    urn_name: str | None
    autoname_suffix: str


def _value(value: Any, old: Any, spec: Any, defaults: Mapping[str, Any] | None, ctx: _Ctx) -> Any:
    if spec is None:
        return _untyped(value)
    if isinstance(spec, tuple):
        return _block(value, old, spec, defaults or {}, ctx)
    if _opaque(value) or value is None:
        return value
    if spec.startswith("m"):
        if not isinstance(value, Mapping):
            return _untyped(value)
        elem = spec[2:] if ":" in spec else None
        return {k: (_scalar(v, elem) if elem else _untyped(v)) for k, v in value.items() if v is not None}
    if spec[0] in "[{1":
        max_one = spec.startswith("1")
        elem = spec[-1]
        items = list(value) if isinstance(value, (list, tuple)) else [value]  # wrap a scalar: schema.go:374-404
        out = [_scalar(v, elem) for v in items]
        if max_one:
            return None if not out else out[0] if len(out) == 1 else _fail_max_one()
        return out
    return _scalar(value, spec)


def _fail_max_one() -> Any:
    raise ValueError("bridge Check panics: more than one element for a MaxItemsOne property (schema.go:1249)")


def _block(value: Any, old: Any, spec: tuple, defaults: Mapping[str, Any], ctx: _Ctx) -> Any:
    kind, fields = spec
    if _opaque(value) or value is None:
        return value
    (children,) = defaults.values() if defaults else ({},)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    old_items: list = [] if old is None or _opaque(old) else list(old) if isinstance(old, (list, tuple)) else [old]
    mapping = None
    if (
        kind.endswith("S")
        and ctx.bridge_version >= SET_CONTENT_MATCHING_SINCE
        and all(isinstance(i, Mapping) for i in items + old_items)
    ):
        mapping = _match_set(items, old_items)
    out = []
    for i, item in enumerate(items):
        if mapping is not None:
            old_item = old_items[mapping[i]] if i in mapping else None
        else:
            old_item = old_items[i] if i < len(old_items) else None
        if isinstance(item, Mapping) and not _opaque(item):
            out.append(
                _object(item, old_item if isinstance(old_item, Mapping) else None, fields, children, ctx, top=False)
            )
        else:
            out.append(item)
    if kind.startswith("1"):  # MaxItemsOne: flattened back to one object (schema.go:1240-1251)
        return None if not out else out[0] if len(out) == 1 else _fail_max_one()
    return out


def _autoname(olds: Mapping[str, Any] | None, ctx: _Ctx) -> Any:
    # ComputeDefaultOptions.PriorValue (schema.go:851-854) wins: autonaming.go:163-167
    if olds is not None and isinstance(olds.get("name"), str) and olds["name"] != UNKNOWN:
        return olds["name"]
    base = ctx.urn_name if ctx.urn_name is not None else "<urn-name>"
    name = base + AUTONAME_SEPARATOR + ctx.autoname_suffix
    if len(name) > AUTONAME_MAXLEN:  # resource.NewUniqueName errors (pulumi resource_id.go:102-105)
        raise ValueError(f"autoname {name!r} longer than {AUTONAME_MAXLEN}")
    return name


def _object(
    news: Mapping[str, Any],
    olds: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
    defaults: Mapping[str, Any],
    ctx: _Ctx,
    *,
    top: bool,
) -> dict:
    """makeObjectTerraformInputs + applyDefaults (schema.go:620-686, 742-989)."""
    result: dict = {}
    for key, value in news.items():
        if key in RESERVED_KEYS or value is None:  # :631-633; nulls skipped on unmarshal (provider.go:967)
            continue
        old = olds.get(key) if olds is not None else None
        spec = fields.get(key)
        result[key] = _value(value, old, spec, defaults.get(key) if isinstance(spec, tuple) else None, ctx)

    added: list[str] = []
    raw_old_defaults = olds.get(DEFAULTS_KEY) if olds is not None else None
    old_defaults = list(raw_old_defaults) if isinstance(raw_old_defaults, (list, tuple)) else None

    def use_old(key: str) -> bool:  # :757-764
        return key in old_defaults if old_defaults is not None else True

    # 1. Pulumi overlay defaults (:770-889): only the autoname of `name`.
    if top and ctx.token in AUTONAMED and "name" not in result:
        if olds is not None and "name" in olds and use_old("name"):
            result["name"] = _value(olds["name"], None, "s", None, ctx)
        else:
            result["name"] = _autoname(olds, ctx)
        added.append("name")

    # 2. Terraform schema defaults (:891-981).
    for key, default in defaults.items():
        if isinstance(default, dict) or key in result:
            continue
        if olds is not None and key in olds and use_old(key):  # :948-954 replay, even a falsy one
            result[key] = _value(olds[key], None, fields.get(key), None, ctx)
            added.append(key)
            continue
        default = _resolve_default(default, ctx.env)
        if ctx.bridge_version >= FALSY_DEFAULTS_SUPPRESSED_SINCE and is_falsy_default(default):
            continue  # :963-967 (no Required+DefaultFunc field among these resources)
        result[key] = float(default) if isinstance(default, int) and not isinstance(default, bool) else default
        added.append(key)

    result[DEFAULTS_KEY] = sorted(added)  # :983-986
    return result


def _pf_value(value: Any) -> Any:
    if _opaque(value) or value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _pf_value(v) for k, v in value.items()}
    return [_pf_value(v) for v in value]


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------


def check_shape(
    type_token: str,
    props: Mapping[str, Any],
    *,
    olds: Mapping[str, Any] | None = None,
    urn_name: str | None = None,
    autoname_suffix: str = "xxxxxxx",
    bridge_version: tuple[int, int, int] = BRIDGE_VERSION,
    env: Mapping[str, str] | None = None,
    secret_factory: Callable[[Any], Any] | None = None,
) -> dict:
    """What the bridge's Check returns for the program inputs `props` (camelCase keys, nested args as
    dicts, as the engine receives them).

    - Defaults are added for unset keys at every object level; each object (top level, each element
      of a block list/set, each MaxItemsOne block) gets "__defaults": the sorted list of the keys
      that were filled in ([] when none). Maps get none.
    - Every number is returned as a float; TypeInt values are truncated first; numbers/bools given to
      string fields become strings; a scalar given to a list field is wrapped; None values are dropped.
    - Values equal to UNKNOWN, and any other non-JSON object, are passed through untouched.
    - olds: the resource's previous inputs (state), as the engine passes them on an update: defaults
      listed in olds' "__defaults" are replayed from olds (even falsy ones, e.g. from a stack created
      by bridge < v3.127.0), and a previous `name` is reused.
    - urn_name / autoname_suffix: an unset `name` of an AUTONAMED resource becomes
      "<urn_name>-<7 random hex chars>"; pass the suffix to pin it (placeholder "xxxxxxx").
    - env: the provider process's environment (only BUILDX_BUILDER matters here).
    - secret_factory: None returns plain values (what a *validation* policy sees: pulumi_policy
      deserialize_properties unwraps secrets); otherwise it is called to wrap values the way the
      engine/bridge do: Sensitive inputs, plus every top-level (or object-nested) property whose input
      contained a secret, wrapped whole (a list is wrapped whole, not per element).
    - Random (Plugin Framework) resources: inputs come back unchanged (numbers as floats), no defaults,
      no "__defaults".
    """
    env = dict(env or {})
    plain = _strip_secrets(dict(props))
    plain_olds = _strip_secrets(dict(olds)) if olds is not None else None
    if type_token.startswith("random:"):
        out = {k: _pf_value(v) for k, v in plain.items() if v is not None}
    else:
        if type_token not in _FIELDS:
            raise KeyError(f"no provider facts for {type_token}")
        version = (bridge_version[0], bridge_version[1], bridge_version[2])
        ctx = _Ctx(type_token, version, env, urn_name, autoname_suffix)
        out = _object(plain, plain_olds, _FIELDS[type_token], TF_DEFAULTS[type_token], ctx, top=True)
    if secret_factory is not None:
        for key in SENSITIVE_INPUTS.get(type_token, ()):
            if key in out and out[key] is not None and not _is_secret(out[key]):
                out[key] = secret_factory(out[key])
        _annotate_secrets(out, props, secret_factory)
    return out


def without_check_defaults(value: Any) -> Any:
    """The program's own inputs back from Check's output: at every object level, the keys its
    `__defaults` lists (what the provider filled in) and `__defaults` itself removed. A value the program
    set itself is never listed, even when it equals the default (schema.go applyDefaults only records
    what it added), so it stays. Raw program inputs (no `__defaults`) come back unchanged."""
    if isinstance(value, Mapping):
        added = value.get(DEFAULTS_KEY)
        skip = set(added) if isinstance(added, list) else set()
        return {k: without_check_defaults(v) for k, v in value.items() if k != DEFAULTS_KEY and k not in skip}
    if isinstance(value, list):
        return [without_check_defaults(v) for v in value]
    return value

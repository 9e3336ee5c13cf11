variable "region" {
  description = "AWS region of the EKS cluster."
  type        = string
  default     = "ap-south-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster; also selects values/karpenter-<cluster_name>.yaml."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "karpenter_version" {
  description = "Karpenter Helm chart version (0.31 charts carry a leading v, e.g. v0.31.3)."
  type        = string
}

variable "enable_interruption_handling" {
  description = "Create the SQS interruption queue and EventBridge rules, and let the controller read the queue."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for every AWS resource created here."
  type        = map(string)
  default     = {}
}

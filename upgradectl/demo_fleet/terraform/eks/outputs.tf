output "karpenter_controller_role_arn" {
  description = "Set as serviceAccount.annotations.eks.amazonaws.com/role-arn in values/karpenter-<cluster>.yaml."
  value       = aws_iam_role.karpenter_controller.arn
}

output "karpenter_node_instance_profile" {
  description = "Set as settings.aws.defaultInstanceProfile."
  value       = module.karpenter.instance_profile_name
}

output "karpenter_interruption_queue" {
  description = "Set as settings.aws.interruptionQueueName (empty when interruption handling is off)."
  value       = var.enable_interruption_handling ? module.karpenter.queue_name : ""
}

output "karpenter_release" {
  description = "Installed Karpenter chart version and Helm revision."
  value = {
    version  = helm_release.karpenter.version
    revision = helm_release.karpenter.metadata[0].revision
  }
}

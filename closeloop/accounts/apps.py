from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "closeloop.accounts"
    label = "accounts"
    verbose_name = "people and access"

    def ready(self):
        # A saved (revoked, deactivated, changed) token or user empties this process's token
        # cache at once (services.authenticate_token).
        from django.db.models.signals import post_delete, post_save

        from .models import ApiToken, User
        from .services import forget_cached_tokens

        for model in (ApiToken, User):
            post_save.connect(forget_cached_tokens, sender=model, dispatch_uid=f"forget-tokens-{model.__name__}")
            post_delete.connect(forget_cached_tokens, sender=model,
                                dispatch_uid=f"forget-tokens-del-{model.__name__}")

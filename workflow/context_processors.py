from core.roles import is_approver, is_ops, side_of


def person(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    side = side_of(user)
    return {
        "my_side": side,
        "i_am_ops": is_ops(user),
        "i_am_approver": is_approver(user),
    }

def execute_command(image):
    # Question: Is there a sign but no circle?
    image_patch = ImagePatch(image)
    has_sign = image_patch.exists("sign")
    if not has_sign:
        return "no"
    has_circle = image_patch.exists("circle")
    if has_circle:
        # Round clutter can look like a circle: keep only detections that the
        # attribute model also calls a circle
        circle_patches = image_patch.find("circle")
        confirmed = [c for c in circle_patches if c.verify_property("object", "circle")]
        has_circle = len(confirmed) > 0
    return bool_to_yesno(has_sign and not has_circle)

def execute_command(image):
    # Question: Is there a circle to the left of a square?
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    square_patches = image_patch.find("square")
    if len(circle_patches) == 0 or len(square_patches) == 0:
        # We need both a circle and a square
        return "no"
    for circle_patch in circle_patches:
        for square_patch in square_patches:
            # left of: the circle's center is clearly left of the square's center
            if circle_patch.horizontal_center < square_patch.horizontal_center - 5:
                # make sure the round thing really is a circle before saying yes
                if circle_patch.verify_property("object", "circle"):
                    return "yes"
    return "no"
